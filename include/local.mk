# The interfaces between the parts: the kernel's vhost ABI as we use it and
# the datapath seam. Not installed.
noinst_HEADERS += \
	include/usvhost/datapath.h \
	include/usvhost/vhost_abi.h
