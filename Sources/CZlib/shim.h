#ifndef ADPILOT_CZLIB_SHIM_H
#define ADPILOT_CZLIB_SHIM_H
#include <zlib.h>
#endif
