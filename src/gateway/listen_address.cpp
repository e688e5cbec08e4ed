#include "gateway/listen_address.hpp"

#include <charconv>
#include <string>

#include "pgpulse/error.hpp"

namespace pgpulse::gateway {

boost::asio::ip::tcp::endpoint parse_listen_address(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    throw Error("--listen wants host:port, not " + std::string(text));
  }
  auto host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) throw Error("--listen: " + std::string(host) + " is not an IP address");
  // All digits and nothing else: std::from_chars alone would stop at "8080x" and accept it.
  auto port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  bool digits_only = !port_text.empty() && port_text.size() <= 5 &&
                     port_text.find_first_not_of("0123456789") == std::string_view::npos;
  if (!digits_only || error != std::errc() || end != port_text.data() + port_text.size() ||
      port == 0 || port > 65535) {
    throw Error("--listen: the port must be a number from 1 to 65535, not \"" +
                std::string(port_text) + "\"");
  }
  return {address, static_cast<unsigned short>(port)};
}

}  // namespace pgpulse::gateway
