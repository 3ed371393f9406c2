package evnet

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// resolve turns a network and an address into a socket family and a
// socket address. Host names are resolved by the net package before any
// socket exists, so the loop never blocks on a name lookup.
func resolve(network, addr string) (int, unix.Sockaddr, error) {
	switch network {
	case "unix":
		return unix.AF_UNIX, &unix.SockaddrUnix{Name: addr}, nil
	case "tcp", "tcp4", "tcp6":
	default:
		return 0, nil, fmt.Errorf("%w: %q", ErrBadNetwork, network)
	}
	ta, err := net.ResolveTCPAddr(network, addr)
	if err != nil {
		return 0, nil, fmt.Errorf("evnet: %w", err)
	}
	ip, _ := netip.AddrFromSlice(ta.IP)
	ip = ip.Unmap()
	switch {
	case network == "tcp6" || (ip.Is6() && network != "tcp4"):
		sa := &unix.SockaddrInet6{Port: ta.Port, Addr: ip.As16()}
		if ta.Zone != "" {
			if ifi, err := net.InterfaceByName(ta.Zone); err == nil {
				sa.ZoneId = uint32(ifi.Index)
			}
		}
		return unix.AF_INET6, sa, nil
	case ip.Is4():
		return unix.AF_INET, &unix.SockaddrInet4{Port: ta.Port, Addr: ip.As4()}, nil
	default: // no address given: every IPv4 address, as net.Listen("tcp4") would
		return unix.AF_INET, &unix.SockaddrInet4{Port: ta.Port}, nil
	}
}

// toAddr turns a socket address into a net.Addr; nil if it cannot.
func toAddr(sa unix.Sockaddr) net.Addr {
	switch s := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(s.Addr[:]).To16(), Port: s.Port}
	case *unix.SockaddrInet6:
		a := &net.TCPAddr{IP: net.IP(s.Addr[:]), Port: s.Port}
		if s.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(s.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: s.Name, Net: "unix"}
	}
	return nil
}
