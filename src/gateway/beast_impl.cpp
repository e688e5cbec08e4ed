// The one translation unit that compiles Beast and Asio's TLS support (separate compilation:
// BOOST_BEAST_SEPARATE_COMPILATION is set for the gateway), so the session files stay light.
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
