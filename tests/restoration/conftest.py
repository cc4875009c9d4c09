"""One OpenCV thread: DIS flow and resizes would otherwise take every core of the CI box."""

import cv2

cv2.setNumThreads(1)
