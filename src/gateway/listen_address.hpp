// `--listen host:port`: the address the gateway binds, parsed strictly so that a typo
// (`8080x`, `:0`, `:99999`) is refused at start instead of binding something else.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string_view>

namespace pgpulse::gateway {

/// Parses `host:port`: the host an IPv4 or IPv6 address (IPv6 in brackets, `[::1]:8080`), the
/// port all digits, 1 to 65535. Throws pgpulse::Error naming what is wrong.
[[nodiscard]] boost::asio::ip::tcp::endpoint parse_listen_address(std::string_view text);

}  // namespace pgpulse::gateway
