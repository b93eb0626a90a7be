#include "kernels/common/handles.h"

namespace mvit {

bool cudnn_available() {
  return MVIT_HAVE_CUDNN != 0;
}

}  // namespace mvit
