"""One OpenCV thread here too: DIS flow and resizes would otherwise take every core of the CI box."""

import cv2

cv2.setNumThreads(1)
