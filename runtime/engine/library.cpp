// libmobilevit_cuda: the installed shared library (runtime/CMakeLists.txt). Its code is the
// engine's, the loader's and the kernels' static libraries, linked whole; this file only gives
// the library target a source of its own.
