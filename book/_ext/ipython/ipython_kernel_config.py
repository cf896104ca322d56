# The kernels that execute the book's chapters (installed as the profile of IPYTHONDIR=_build/ipython
# by `make book`).  ipykernel warns at every start that its sockets use TCP without encryption;
# the book's kernels listen on 127.0.0.1 for the one build that started them, so the warning says
# nothing about the build and only buried the chapters' real messages in every execution log.
# Errors of the kernel application are still reported.
c = get_config()  # noqa: F821
c.IPKernelApp.log_level = "ERROR"
