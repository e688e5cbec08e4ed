// The one translation unit that compiles Asio (BOOST_ASIO_SEPARATE_COMPILATION is set for
// the whole project): every other file includes only declarations, which keeps builds fast.
#include <boost/asio/impl/src.hpp>
