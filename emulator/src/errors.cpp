// cudaGetErrorName / cudaGetErrorString for the emulated runtime, both served from one table. The
// names are the enumerators of cudaError in the toolkit's driver_types.h; the descriptions are the
// CUDA runtime's own texts for the errors the emulator reports, and the name for the rest.
#include <cuda_runtime_api.h>

#include <cstddef>

namespace {

struct ErrorEntry {
  cudaError_t code;
  const char* name;
  const char* description;  // nullptr: cudaGetErrorString returns the name
};

// The name is the enumerator itself, spelled by the preprocessor, so the two cannot disagree.
#define MVIT_EMU_ERROR(code, description) \
  { code, #code, description }

constexpr ErrorEntry kErrors[] = {
    MVIT_EMU_ERROR(cudaSuccess, "no error"),
    MVIT_EMU_ERROR(cudaErrorInvalidValue, "invalid argument"),
    MVIT_EMU_ERROR(cudaErrorMemoryAllocation, "out of memory"),
    MVIT_EMU_ERROR(cudaErrorInitializationError, "initialization error"),
    MVIT_EMU_ERROR(cudaErrorCudartUnloading, nullptr),
    MVIT_EMU_ERROR(cudaErrorProfilerDisabled, nullptr),
    MVIT_EMU_ERROR(cudaErrorProfilerNotInitialized, nullptr),
    MVIT_EMU_ERROR(cudaErrorProfilerAlreadyStarted, nullptr),
    MVIT_EMU_ERROR(cudaErrorProfilerAlreadyStopped, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidConfiguration, "invalid configuration argument"),
    MVIT_EMU_ERROR(cudaErrorInvalidPitchValue, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidSymbol, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidHostPointer, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidDevicePointer, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidTexture, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidTextureBinding, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidChannelDescriptor, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidMemcpyDirection, "invalid copy direction for memcpy"),
    MVIT_EMU_ERROR(cudaErrorAddressOfConstant, nullptr),
    MVIT_EMU_ERROR(cudaErrorTextureFetchFailed, nullptr),
    MVIT_EMU_ERROR(cudaErrorTextureNotBound, nullptr),
    MVIT_EMU_ERROR(cudaErrorSynchronizationError, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidFilterSetting, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidNormSetting, nullptr),
    MVIT_EMU_ERROR(cudaErrorMixedDeviceExecution, nullptr),
    MVIT_EMU_ERROR(cudaErrorNotYetImplemented, nullptr),
    MVIT_EMU_ERROR(cudaErrorMemoryValueTooLarge, nullptr),
    MVIT_EMU_ERROR(cudaErrorStubLibrary, nullptr),
    MVIT_EMU_ERROR(cudaErrorInsufficientDriver,
                   "CUDA driver version is insufficient for CUDA runtime version"),
    MVIT_EMU_ERROR(cudaErrorCallRequiresNewerDriver, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidSurface, nullptr),
    MVIT_EMU_ERROR(cudaErrorDuplicateVariableName, nullptr),
    MVIT_EMU_ERROR(cudaErrorDuplicateTextureName, nullptr),
    MVIT_EMU_ERROR(cudaErrorDuplicateSurfaceName, nullptr),
    MVIT_EMU_ERROR(cudaErrorDevicesUnavailable, nullptr),
    MVIT_EMU_ERROR(cudaErrorIncompatibleDriverContext, nullptr),
    MVIT_EMU_ERROR(cudaErrorMissingConfiguration, nullptr),
    MVIT_EMU_ERROR(cudaErrorPriorLaunchFailure, nullptr),
    MVIT_EMU_ERROR(cudaErrorLaunchMaxDepthExceeded, nullptr),
    MVIT_EMU_ERROR(cudaErrorLaunchFileScopedTex, nullptr),
    MVIT_EMU_ERROR(cudaErrorLaunchFileScopedSurf, nullptr),
    MVIT_EMU_ERROR(cudaErrorSyncDepthExceeded, nullptr),
    MVIT_EMU_ERROR(cudaErrorLaunchPendingCountExceeded, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidDeviceFunction, "invalid device function"),
    MVIT_EMU_ERROR(cudaErrorNoDevice, "no CUDA-capable device is detected"),
    MVIT_EMU_ERROR(cudaErrorInvalidDevice, "invalid device ordinal"),
    MVIT_EMU_ERROR(cudaErrorDeviceNotLicensed, nullptr),
    MVIT_EMU_ERROR(cudaErrorSoftwareValidityNotEstablished, nullptr),
    MVIT_EMU_ERROR(cudaErrorStartupFailure, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidKernelImage, nullptr),
    MVIT_EMU_ERROR(cudaErrorDeviceUninitialized, nullptr),
    MVIT_EMU_ERROR(cudaErrorMapBufferObjectFailed, nullptr),
    MVIT_EMU_ERROR(cudaErrorUnmapBufferObjectFailed, nullptr),
    MVIT_EMU_ERROR(cudaErrorArrayIsMapped, nullptr),
    MVIT_EMU_ERROR(cudaErrorAlreadyMapped, nullptr),
    MVIT_EMU_ERROR(cudaErrorNoKernelImageForDevice, nullptr),
    MVIT_EMU_ERROR(cudaErrorAlreadyAcquired, nullptr),
    MVIT_EMU_ERROR(cudaErrorNotMapped, nullptr),
    MVIT_EMU_ERROR(cudaErrorNotMappedAsArray, nullptr),
    MVIT_EMU_ERROR(cudaErrorNotMappedAsPointer, nullptr),
    MVIT_EMU_ERROR(cudaErrorECCUncorrectable, nullptr),
    MVIT_EMU_ERROR(cudaErrorUnsupportedLimit, nullptr),
    MVIT_EMU_ERROR(cudaErrorDeviceAlreadyInUse, nullptr),
    MVIT_EMU_ERROR(cudaErrorPeerAccessUnsupported, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidPtx, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidGraphicsContext, nullptr),
    MVIT_EMU_ERROR(cudaErrorNvlinkUncorrectable, nullptr),
    MVIT_EMU_ERROR(cudaErrorJitCompilerNotFound, nullptr),
    MVIT_EMU_ERROR(cudaErrorUnsupportedPtxVersion, nullptr),
    MVIT_EMU_ERROR(cudaErrorJitCompilationDisabled, nullptr),
    MVIT_EMU_ERROR(cudaErrorUnsupportedExecAffinity, nullptr),
    MVIT_EMU_ERROR(cudaErrorUnsupportedDevSideSync, nullptr),
    MVIT_EMU_ERROR(cudaErrorContained, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidSource, nullptr),
    MVIT_EMU_ERROR(cudaErrorFileNotFound, nullptr),
    MVIT_EMU_ERROR(cudaErrorSharedObjectSymbolNotFound, nullptr),
    MVIT_EMU_ERROR(cudaErrorSharedObjectInitFailed, nullptr),
    MVIT_EMU_ERROR(cudaErrorOperatingSystem, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidResourceHandle, "invalid resource handle"),
    MVIT_EMU_ERROR(cudaErrorIllegalState, "the operation cannot be performed in the present state"),
    MVIT_EMU_ERROR(cudaErrorLossyQuery, nullptr),
    MVIT_EMU_ERROR(cudaErrorSymbolNotFound, nullptr),
    MVIT_EMU_ERROR(cudaErrorNotReady, "device not ready"),
    MVIT_EMU_ERROR(cudaErrorIllegalAddress, "an illegal memory access was encountered"),
    MVIT_EMU_ERROR(cudaErrorLaunchOutOfResources, "too many resources requested for launch"),
    MVIT_EMU_ERROR(cudaErrorLaunchTimeout, nullptr),
    MVIT_EMU_ERROR(cudaErrorLaunchIncompatibleTexturing, nullptr),
    MVIT_EMU_ERROR(cudaErrorPeerAccessAlreadyEnabled, nullptr),
    MVIT_EMU_ERROR(cudaErrorPeerAccessNotEnabled, nullptr),
    MVIT_EMU_ERROR(cudaErrorSetOnActiveProcess, nullptr),
    MVIT_EMU_ERROR(cudaErrorContextIsDestroyed, nullptr),
    MVIT_EMU_ERROR(cudaErrorAssert, nullptr),
    MVIT_EMU_ERROR(cudaErrorTooManyPeers, nullptr),
    MVIT_EMU_ERROR(cudaErrorHostMemoryAlreadyRegistered, nullptr),
    MVIT_EMU_ERROR(cudaErrorHostMemoryNotRegistered, nullptr),
    MVIT_EMU_ERROR(cudaErrorHardwareStackError, nullptr),
    MVIT_EMU_ERROR(cudaErrorIllegalInstruction, nullptr),
    MVIT_EMU_ERROR(cudaErrorMisalignedAddress, "misaligned address"),
    MVIT_EMU_ERROR(cudaErrorInvalidAddressSpace, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidPc, nullptr),
    MVIT_EMU_ERROR(cudaErrorLaunchFailure, "unspecified launch failure"),
    MVIT_EMU_ERROR(cudaErrorCooperativeLaunchTooLarge, nullptr),
    MVIT_EMU_ERROR(cudaErrorTensorMemoryLeak, nullptr),
    MVIT_EMU_ERROR(cudaErrorNotPermitted, nullptr),
    MVIT_EMU_ERROR(cudaErrorNotSupported, "operation not supported"),
    MVIT_EMU_ERROR(cudaErrorSystemNotReady, nullptr),
    MVIT_EMU_ERROR(cudaErrorSystemDriverMismatch, nullptr),
    MVIT_EMU_ERROR(cudaErrorCompatNotSupportedOnDevice, nullptr),
    MVIT_EMU_ERROR(cudaErrorMpsConnectionFailed, nullptr),
    MVIT_EMU_ERROR(cudaErrorMpsRpcFailure, nullptr),
    MVIT_EMU_ERROR(cudaErrorMpsServerNotReady, nullptr),
    MVIT_EMU_ERROR(cudaErrorMpsMaxClientsReached, nullptr),
    MVIT_EMU_ERROR(cudaErrorMpsMaxConnectionsReached, nullptr),
    MVIT_EMU_ERROR(cudaErrorMpsClientTerminated, nullptr),
    MVIT_EMU_ERROR(cudaErrorCdpNotSupported, nullptr),
    MVIT_EMU_ERROR(cudaErrorCdpVersionMismatch, nullptr),
    MVIT_EMU_ERROR(cudaErrorStreamCaptureUnsupported,
                   "operation not permitted when stream is capturing"),
    MVIT_EMU_ERROR(cudaErrorStreamCaptureInvalidated,
                   "operation failed due to a previous error during capture"),
    MVIT_EMU_ERROR(cudaErrorStreamCaptureMerge, nullptr),
    MVIT_EMU_ERROR(cudaErrorStreamCaptureUnmatched,
                   "capture was not ended in the same stream as it began"),
    MVIT_EMU_ERROR(cudaErrorStreamCaptureUnjoined, nullptr),
    MVIT_EMU_ERROR(cudaErrorStreamCaptureIsolation, nullptr),
    MVIT_EMU_ERROR(cudaErrorStreamCaptureImplicit,
                   "operation would make the legacy stream depend on a capturing blocking stream"),
    MVIT_EMU_ERROR(cudaErrorCapturedEvent, nullptr),
    MVIT_EMU_ERROR(cudaErrorStreamCaptureWrongThread,
                   "attempt to terminate a thread-local capture sequence from another thread"),
    MVIT_EMU_ERROR(cudaErrorTimeout, nullptr),
    MVIT_EMU_ERROR(cudaErrorGraphExecUpdateFailure, nullptr),
    MVIT_EMU_ERROR(cudaErrorExternalDevice, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidClusterSize, nullptr),
    MVIT_EMU_ERROR(cudaErrorFunctionNotLoaded, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidResourceType, nullptr),
    MVIT_EMU_ERROR(cudaErrorInvalidResourceConfiguration, nullptr),
    MVIT_EMU_ERROR(cudaErrorUnknown, "unknown error"),
    MVIT_EMU_ERROR(cudaErrorApiFailureBase, nullptr),
};

#undef MVIT_EMU_ERROR

// What a switch over the codes checked for free: no code is listed twice.
constexpr bool codes_are_distinct() {
  constexpr size_t n = sizeof kErrors / sizeof kErrors[0];
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      if (kErrors[i].code == kErrors[j].code) return false;
    }
  }
  return true;
}
static_assert(codes_are_distinct(), "an error code is listed twice in kErrors");

// The entry for `error`, or nullptr for a code the table does not list.
const ErrorEntry* find_error(cudaError_t error) {
  for (const ErrorEntry& e : kErrors) {
    if (e.code == error) return &e;
  }
  return nullptr;
}

}  // namespace

const char* cudaGetErrorName(cudaError_t error) {
  const ErrorEntry* e = find_error(error);
  return e != nullptr ? e->name : "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  const ErrorEntry* e = find_error(error);
  if (e != nullptr && e->description != nullptr) return e->description;
  return cudaGetErrorName(error);
}
