# The interfaces between the parts: the kernel's vhost ABI as we use it, the
# datapath seam and the ring walker another datapath would use. Not installed.
noinst_HEADERS += \
	include/usvhost/control.h \
	include/usvhost/dp_seam.h \
	include/usvhost/vhost_abi.h \
	include/usvhost/vringh.h
