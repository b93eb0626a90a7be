// cudaGetErrorName / cudaGetErrorString for the emulated runtime. The names are the enumerators of
// cudaError in the toolkit's driver_types.h; the descriptions are the CUDA runtime's own texts for
// the errors the emulator reports, and the name for the rest.
#include <cuda_runtime_api.h>

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError:
      return "cudaErrorInitializationError";
    case cudaErrorCudartUnloading:
      return "cudaErrorCudartUnloading";
    case cudaErrorProfilerDisabled:
      return "cudaErrorProfilerDisabled";
    case cudaErrorProfilerNotInitialized:
      return "cudaErrorProfilerNotInitialized";
    case cudaErrorProfilerAlreadyStarted:
      return "cudaErrorProfilerAlreadyStarted";
    case cudaErrorProfilerAlreadyStopped:
      return "cudaErrorProfilerAlreadyStopped";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidPitchValue:
      return "cudaErrorInvalidPitchValue";
    case cudaErrorInvalidSymbol:
      return "cudaErrorInvalidSymbol";
    case cudaErrorInvalidHostPointer:
      return "cudaErrorInvalidHostPointer";
    case cudaErrorInvalidDevicePointer:
      return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidTexture:
      return "cudaErrorInvalidTexture";
    case cudaErrorInvalidTextureBinding:
      return "cudaErrorInvalidTextureBinding";
    case cudaErrorInvalidChannelDescriptor:
      return "cudaErrorInvalidChannelDescriptor";
    case cudaErrorInvalidMemcpyDirection:
      return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorAddressOfConstant:
      return "cudaErrorAddressOfConstant";
    case cudaErrorTextureFetchFailed:
      return "cudaErrorTextureFetchFailed";
    case cudaErrorTextureNotBound:
      return "cudaErrorTextureNotBound";
    case cudaErrorSynchronizationError:
      return "cudaErrorSynchronizationError";
    case cudaErrorInvalidFilterSetting:
      return "cudaErrorInvalidFilterSetting";
    case cudaErrorInvalidNormSetting:
      return "cudaErrorInvalidNormSetting";
    case cudaErrorMixedDeviceExecution:
      return "cudaErrorMixedDeviceExecution";
    case cudaErrorNotYetImplemented:
      return "cudaErrorNotYetImplemented";
    case cudaErrorMemoryValueTooLarge:
      return "cudaErrorMemoryValueTooLarge";
    case cudaErrorStubLibrary:
      return "cudaErrorStubLibrary";
    case cudaErrorInsufficientDriver:
      return "cudaErrorInsufficientDriver";
    case cudaErrorCallRequiresNewerDriver:
      return "cudaErrorCallRequiresNewerDriver";
    case cudaErrorInvalidSurface:
      return "cudaErrorInvalidSurface";
    case cudaErrorDuplicateVariableName:
      return "cudaErrorDuplicateVariableName";
    case cudaErrorDuplicateTextureName:
      return "cudaErrorDuplicateTextureName";
    case cudaErrorDuplicateSurfaceName:
      return "cudaErrorDuplicateSurfaceName";
    case cudaErrorDevicesUnavailable:
      return "cudaErrorDevicesUnavailable";
    case cudaErrorIncompatibleDriverContext:
      return "cudaErrorIncompatibleDriverContext";
    case cudaErrorMissingConfiguration:
      return "cudaErrorMissingConfiguration";
    case cudaErrorPriorLaunchFailure:
      return "cudaErrorPriorLaunchFailure";
    case cudaErrorLaunchMaxDepthExceeded:
      return "cudaErrorLaunchMaxDepthExceeded";
    case cudaErrorLaunchFileScopedTex:
      return "cudaErrorLaunchFileScopedTex";
    case cudaErrorLaunchFileScopedSurf:
      return "cudaErrorLaunchFileScopedSurf";
    case cudaErrorSyncDepthExceeded:
      return "cudaErrorSyncDepthExceeded";
    case cudaErrorLaunchPendingCountExceeded:
      return "cudaErrorLaunchPendingCountExceeded";
    case cudaErrorInvalidDeviceFunction:
      return "cudaErrorInvalidDeviceFunction";
    case cudaErrorNoDevice:
      return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorDeviceNotLicensed:
      return "cudaErrorDeviceNotLicensed";
    case cudaErrorSoftwareValidityNotEstablished:
      return "cudaErrorSoftwareValidityNotEstablished";
    case cudaErrorStartupFailure:
      return "cudaErrorStartupFailure";
    case cudaErrorInvalidKernelImage:
      return "cudaErrorInvalidKernelImage";
    case cudaErrorDeviceUninitialized:
      return "cudaErrorDeviceUninitialized";
    case cudaErrorMapBufferObjectFailed:
      return "cudaErrorMapBufferObjectFailed";
    case cudaErrorUnmapBufferObjectFailed:
      return "cudaErrorUnmapBufferObjectFailed";
    case cudaErrorArrayIsMapped:
      return "cudaErrorArrayIsMapped";
    case cudaErrorAlreadyMapped:
      return "cudaErrorAlreadyMapped";
    case cudaErrorNoKernelImageForDevice:
      return "cudaErrorNoKernelImageForDevice";
    case cudaErrorAlreadyAcquired:
      return "cudaErrorAlreadyAcquired";
    case cudaErrorNotMapped:
      return "cudaErrorNotMapped";
    case cudaErrorNotMappedAsArray:
      return "cudaErrorNotMappedAsArray";
    case cudaErrorNotMappedAsPointer:
      return "cudaErrorNotMappedAsPointer";
    case cudaErrorECCUncorrectable:
      return "cudaErrorECCUncorrectable";
    case cudaErrorUnsupportedLimit:
      return "cudaErrorUnsupportedLimit";
    case cudaErrorDeviceAlreadyInUse:
      return "cudaErrorDeviceAlreadyInUse";
    case cudaErrorPeerAccessUnsupported:
      return "cudaErrorPeerAccessUnsupported";
    case cudaErrorInvalidPtx:
      return "cudaErrorInvalidPtx";
    case cudaErrorInvalidGraphicsContext:
      return "cudaErrorInvalidGraphicsContext";
    case cudaErrorNvlinkUncorrectable:
      return "cudaErrorNvlinkUncorrectable";
    case cudaErrorJitCompilerNotFound:
      return "cudaErrorJitCompilerNotFound";
    case cudaErrorUnsupportedPtxVersion:
      return "cudaErrorUnsupportedPtxVersion";
    case cudaErrorJitCompilationDisabled:
      return "cudaErrorJitCompilationDisabled";
    case cudaErrorUnsupportedExecAffinity:
      return "cudaErrorUnsupportedExecAffinity";
    case cudaErrorUnsupportedDevSideSync:
      return "cudaErrorUnsupportedDevSideSync";
    case cudaErrorContained:
      return "cudaErrorContained";
    case cudaErrorInvalidSource:
      return "cudaErrorInvalidSource";
    case cudaErrorFileNotFound:
      return "cudaErrorFileNotFound";
    case cudaErrorSharedObjectSymbolNotFound:
      return "cudaErrorSharedObjectSymbolNotFound";
    case cudaErrorSharedObjectInitFailed:
      return "cudaErrorSharedObjectInitFailed";
    case cudaErrorOperatingSystem:
      return "cudaErrorOperatingSystem";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorIllegalState:
      return "cudaErrorIllegalState";
    case cudaErrorLossyQuery:
      return "cudaErrorLossyQuery";
    case cudaErrorSymbolNotFound:
      return "cudaErrorSymbolNotFound";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    case cudaErrorIllegalAddress:
      return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources:
      return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchTimeout:
      return "cudaErrorLaunchTimeout";
    case cudaErrorLaunchIncompatibleTexturing:
      return "cudaErrorLaunchIncompatibleTexturing";
    case cudaErrorPeerAccessAlreadyEnabled:
      return "cudaErrorPeerAccessAlreadyEnabled";
    case cudaErrorPeerAccessNotEnabled:
      return "cudaErrorPeerAccessNotEnabled";
    case cudaErrorSetOnActiveProcess:
      return "cudaErrorSetOnActiveProcess";
    case cudaErrorContextIsDestroyed:
      return "cudaErrorContextIsDestroyed";
    case cudaErrorAssert:
      return "cudaErrorAssert";
    case cudaErrorTooManyPeers:
      return "cudaErrorTooManyPeers";
    case cudaErrorHostMemoryAlreadyRegistered:
      return "cudaErrorHostMemoryAlreadyRegistered";
    case cudaErrorHostMemoryNotRegistered:
      return "cudaErrorHostMemoryNotRegistered";
    case cudaErrorHardwareStackError:
      return "cudaErrorHardwareStackError";
    case cudaErrorIllegalInstruction:
      return "cudaErrorIllegalInstruction";
    case cudaErrorMisalignedAddress:
      return "cudaErrorMisalignedAddress";
    case cudaErrorInvalidAddressSpace:
      return "cudaErrorInvalidAddressSpace";
    case cudaErrorInvalidPc:
      return "cudaErrorInvalidPc";
    case cudaErrorLaunchFailure:
      return "cudaErrorLaunchFailure";
    case cudaErrorCooperativeLaunchTooLarge:
      return "cudaErrorCooperativeLaunchTooLarge";
    case cudaErrorTensorMemoryLeak:
      return "cudaErrorTensorMemoryLeak";
    case cudaErrorNotPermitted:
      return "cudaErrorNotPermitted";
    case cudaErrorNotSupported:
      return "cudaErrorNotSupported";
    case cudaErrorSystemNotReady:
      return "cudaErrorSystemNotReady";
    case cudaErrorSystemDriverMismatch:
      return "cudaErrorSystemDriverMismatch";
    case cudaErrorCompatNotSupportedOnDevice:
      return "cudaErrorCompatNotSupportedOnDevice";
    case cudaErrorMpsConnectionFailed:
      return "cudaErrorMpsConnectionFailed";
    case cudaErrorMpsRpcFailure:
      return "cudaErrorMpsRpcFailure";
    case cudaErrorMpsServerNotReady:
      return "cudaErrorMpsServerNotReady";
    case cudaErrorMpsMaxClientsReached:
      return "cudaErrorMpsMaxClientsReached";
    case cudaErrorMpsMaxConnectionsReached:
      return "cudaErrorMpsMaxConnectionsReached";
    case cudaErrorMpsClientTerminated:
      return "cudaErrorMpsClientTerminated";
    case cudaErrorCdpNotSupported:
      return "cudaErrorCdpNotSupported";
    case cudaErrorCdpVersionMismatch:
      return "cudaErrorCdpVersionMismatch";
    case cudaErrorStreamCaptureUnsupported:
      return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated:
      return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureMerge:
      return "cudaErrorStreamCaptureMerge";
    case cudaErrorStreamCaptureUnmatched:
      return "cudaErrorStreamCaptureUnmatched";
    case cudaErrorStreamCaptureUnjoined:
      return "cudaErrorStreamCaptureUnjoined";
    case cudaErrorStreamCaptureIsolation:
      return "cudaErrorStreamCaptureIsolation";
    case cudaErrorStreamCaptureImplicit:
      return "cudaErrorStreamCaptureImplicit";
    case cudaErrorCapturedEvent:
      return "cudaErrorCapturedEvent";
    case cudaErrorStreamCaptureWrongThread:
      return "cudaErrorStreamCaptureWrongThread";
    case cudaErrorTimeout:
      return "cudaErrorTimeout";
    case cudaErrorGraphExecUpdateFailure:
      return "cudaErrorGraphExecUpdateFailure";
    case cudaErrorExternalDevice:
      return "cudaErrorExternalDevice";
    case cudaErrorInvalidClusterSize:
      return "cudaErrorInvalidClusterSize";
    case cudaErrorFunctionNotLoaded:
      return "cudaErrorFunctionNotLoaded";
    case cudaErrorInvalidResourceType:
      return "cudaErrorInvalidResourceType";
    case cudaErrorInvalidResourceConfiguration:
      return "cudaErrorInvalidResourceConfiguration";
    case cudaErrorUnknown:
      return "cudaErrorUnknown";
    case cudaErrorApiFailureBase:
      return "cudaErrorApiFailureBase";
    default:
      return "cudaErrorUnknown";
  }
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInitializationError:
      return "initialization error";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal";
    case cudaErrorInvalidMemcpyDirection:
      return "invalid copy direction for memcpy";
    case cudaErrorInsufficientDriver:
      return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice:
      return "no CUDA-capable device is detected";
    case cudaErrorInvalidDeviceFunction:
      return "invalid device function";
    case cudaErrorInvalidResourceHandle:
      return "invalid resource handle";
    case cudaErrorNotReady:
      return "device not ready";
    case cudaErrorIllegalAddress:
      return "an illegal memory access was encountered";
    case cudaErrorLaunchOutOfResources:
      return "too many resources requested for launch";
    case cudaErrorLaunchFailure:
      return "unspecified launch failure";
    case cudaErrorNotSupported:
      return "operation not supported";
    case cudaErrorIllegalState:
      return "the operation cannot be performed in the present state";
    case cudaErrorStreamCaptureUnsupported:
      return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated:
      return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureImplicit:
      return "operation would make the legacy stream depend on a capturing blocking stream";
    case cudaErrorStreamCaptureWrongThread:
      return "attempt to terminate a thread-local capture sequence from another thread";
    case cudaErrorStreamCaptureUnmatched:
      return "capture was not ended in the same stream as it began";
    case cudaErrorUnknown:
      return "unknown error";
    case cudaErrorMisalignedAddress:
      return "misaligned address";
    default:
      return cudaGetErrorName(error);
  }
}
