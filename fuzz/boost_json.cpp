// Boost.JSON compiled into the fuzz target (header-only mode), so that it is instrumented.
#include <boost/json/src.hpp>
