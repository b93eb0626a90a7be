// mvit::Model (Model::load): the loaded, validated model an Engine is built from. The definition
// lives with the loader in runtime/model.h (plain C++, no CUDA); this is the public name for it.
// The installed package carries runtime/model.h and the three headers it includes.
#pragma once

#include "runtime/model.h"
