// Everything in CLoomVector is `static inline` in include/loom_vector.h; SwiftPM needs a source file.
#include "loom_vector.h"
