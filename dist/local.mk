# dist/: what fits usvhostd into a systemd and udev host: the service, its
# helper, the udev rule and the module snippets. Each directory is a
# configure option (--with-systemdsystemunitdir, --with-udevrulesdir,
# --with-modulesloaddir, --with-modprobedir; "no" skips that file).
dist_pkglibexec_SCRIPTS = dist/usvhost-node
EXTRA_DIST += dist/usvhostd.service.in
CLEANFILES += dist/usvhostd.service

if HAVE_SYSTEMDSYSTEMUNITDIR
systemdsystemunit_DATA = dist/usvhostd.service
else
noinst_DATA = dist/usvhostd.service
endif
if HAVE_UDEVRULESDIR
dist_udevrules_DATA = dist/60-usvhost.rules
else
EXTRA_DIST += dist/60-usvhost.rules
endif
if HAVE_MODULESLOADDIR
dist_modulesload_DATA = dist/modules-load.d/usvhost.conf
else
EXTRA_DIST += dist/modules-load.d/usvhost.conf
endif
if HAVE_MODPROBEDIR
dist_modprobe_DATA = dist/modprobe.d/usvhost.conf
else
EXTRA_DIST += dist/modprobe.d/usvhost.conf
endif

# The installed paths go in at make time, so that a prefix given to make
# (or distcheck's) is the one the unit names.
dist_edit = sed -e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@pkglibexecdir[@]|$(pkglibexecdir)|g'
dist/usvhostd.service: $(srcdir)/dist/usvhostd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) dist && $(dist_edit) $(srcdir)/dist/usvhostd.service.in > $@.tmp && mv $@.tmp $@

# Where make install puts each file, for tests/integration/unit-files.sh
# (empty: that file is not installed).
dist-installdirs:
	@echo "sbindir=$(sbindir)"
	@echo "pkglibexecdir=$(pkglibexecdir)"
	@echo "systemdsystemunitdir=$(systemdsystemunitdir)"
	@echo "udevrulesdir=$(udevrulesdir)"
	@echo "modulesloaddir=$(modulesloaddir)"
	@echo "modprobedir=$(modprobedir)"
.PHONY: dist-installdirs
