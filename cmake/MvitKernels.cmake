# How .cu sources are compiled in each build, and the cuda build's ptxas resource report.
#
# mvit_cuda_sources(<target> <PRIVATE|PUBLIC> <file.cu>...): adds CUDA sources to a target.
#   cuda build:     nvcc, for CMAKE_CUDA_ARCHITECTURES, with ptxas -v captured (see below).
#   emulated build: g++ as C++ (-x c++) with emulator/prelude.h force-included.

set(MVIT_PRELUDE ${PROJECT_SOURCE_DIR}/emulator/prelude.h)

if(NOT MVIT_EMULATED AND MVIT_BUILD_KERNELS)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    # sm_75..sm_90 as machine code, plus compute_90 PTX ("90" = 90-real + 90-virtual) so newer GPUs
    # can JIT it. CI may pass a subset (-DCMAKE_CUDA_ARCHITECTURES="75-real;90").
    set(CMAKE_CUDA_ARCHITECTURES "75-real;80-real;86-real;89-real;90")
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)

  # Every nvcc compile keeps ptxas's resource usage (registers, shared memory, stack, spill
  # stores/loads of each kernel, per architecture) in build/<preset>/ptxas/; the kernels library's
  # post-build step merges them into ptxas_report.tsv, and the ptxas_no_spills test checks it.
  set(MVIT_PTXAS_LOG_DIR ${CMAKE_BINARY_DIR}/ptxas)
  string(APPEND CMAKE_CUDA_FLAGS " -Xptxas=-v")
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${PROJECT_SOURCE_DIR}/cmake/ptxas_log.sh ${MVIT_PTXAS_LOG_DIR})

  # FindCUDAToolkit has no cuDNN target (shared/reference/ecosystem.md section 1). A cuDNN outside
  # the toolkit is given as -DMVIT_CUDNN_LIBRARY=<libcudnn.so[.9]> -DMVIT_CUDNN_INCLUDE_DIR=<dir>.
  # MVIT_WITH_CUDNN=OFF (tools/gpu_check.sh, on a machine without cuDNN) leaves mvit_cudnn empty;
  # it stays a requirement by default.
  option(MVIT_WITH_CUDNN "cuda build: find and link cuDNN" ON)
  if(MVIT_WITH_CUDNN)
    find_library(MVIT_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} REQUIRED)
    find_path(MVIT_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} REQUIRED)
    add_library(mvit_cudnn UNKNOWN IMPORTED)
    set_target_properties(mvit_cudnn PROPERTIES IMPORTED_LOCATION ${MVIT_CUDNN_LIBRARY}
                                                INTERFACE_INCLUDE_DIRECTORIES ${MVIT_CUDNN_INCLUDE_DIR})
  else()
    add_library(mvit_cudnn INTERFACE)
  endif()
endif()

function(mvit_cuda_sources target scope)
  target_sources(${target} ${scope} ${ARGN})
  if(MVIT_EMULATED)
    set_source_files_properties(${ARGN} TARGET_DIRECTORY ${target} PROPERTIES
      LANGUAGE CXX
      COMPILE_OPTIONS "-x;c++;-include;${MVIT_PRELUDE}")
  endif()
endfunction()

# Libraries a target that launches kernels or calls cuBLAS/cuDNN links: the real ones or emulator/.
function(mvit_link_device_runtime target scope)
  if(MVIT_EMULATED)
    target_link_libraries(${target} ${scope} mvit_emulator)
  else()
    target_link_libraries(${target} ${scope} CUDA::cudart CUDA::cublas mvit_cudnn)
  endif()
endfunction()
