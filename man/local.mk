dist_man_MANS += man/usvhostd.8
