"""Which plane stands for luma, decided once (``FrameFormat.lead``) for every route that needs it."""

from __future__ import annotations

import numpy as np

from flickerd.routes.frame_stream import FrameFormat


def test_luma_leads_on_yuv_and_green_on_rgb_and_the_order_comes_back():
    yuv, rgb = FrameFormat(True, 8, np.uint8, 255.0), FrameFormat(False, 0, np.uint8, 255.0)
    planes = [np.full((2, 2), k, np.float32) for k in range(3)]  # Y, U, V or R, G, B
    assert yuv.lead == 0 and [p[0, 0] for p in yuv.lead_first(planes)] == [0, 1, 2]
    assert rgb.lead == 1 and [p[0, 0] for p in rgb.lead_first(planes)] == [1, 0, 2]  # green carries most of luma
    for fmt in (yuv, rgb):
        assert [p[0, 0] for p in fmt.in_order(fmt.lead_first(planes))] == [0, 1, 2]
