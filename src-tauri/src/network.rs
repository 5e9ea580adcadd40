//! Which local network this computer is on now, as a name the user can mark public (Settings
//! keeps those names, and nearby devices stay off on them).
//!
//! Shell layer: reads the interfaces and, on Linux, the kernel's route and ARP tables; it
//! never touches the network itself.

/// A name for the local network this computer is on now, so that the user can call it
/// public: its IPv4 networks (address/prefix), and on Linux the hardware address of the
/// default gateway, which tells two home networks with the same addresses apart. `None`
/// when it is on no network.
pub(crate) fn network_id() -> Option<String> {
    let nets: Vec<String> = if_addrs::get_if_addrs()
        .ok()?
        .into_iter()
        .filter(|i| !i.is_loopback())
        .filter_map(|i| match i.addr {
            if_addrs::IfAddr::V4(v4) => {
                let mask = u32::from(v4.netmask);
                let net = std::net::Ipv4Addr::from(u32::from(v4.ip) & mask);
                Some(format!("{net}/{}", mask.count_ones()))
            }
            _ => None,
        })
        .collect();
    name(nets, gateway_hardware_address().as_deref())
}

/// The network's name from its IPv4 networks (any order, repeats allowed) and the gateway's
/// hardware address, if known.
fn name(mut nets: Vec<String>, gateway: Option<&str>) -> Option<String> {
    nets.sort();
    nets.dedup();
    if nets.is_empty() {
        return None;
    }
    let mut id = nets.join(", ");
    if let Some(mac) = gateway {
        id.push_str(" via ");
        id.push_str(mac);
    }
    Some(id)
}

/// The default gateway's MAC address from the kernel's route and ARP tables (Linux).
fn gateway_hardware_address() -> Option<String> {
    let routes = std::fs::read_to_string("/proc/net/route").ok()?;
    let arp = std::fs::read_to_string("/proc/net/arp").ok()?;
    gateway_in_tables(&routes, &arp)
}

/// The default gateway's MAC address, given the text of `/proc/net/route` and
/// `/proc/net/arp`.
fn gateway_in_tables(routes: &str, arp: &str) -> Option<String> {
    let gateway = routes.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, "00000000", gw, ..] => u32::from_str_radix(gw, 16).ok(),
            _ => None,
        }
    })?;
    // The table holds the address in the kernel's (little-endian) byte order.
    let gateway = std::net::Ipv4Addr::from(gateway.to_le_bytes()).to_string();
    arp.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [ip, _, _, mac, ..] if *ip == gateway && *mac != "00:00:00:00:00:00" => {
                Some((*mac).to_owned())
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
wlan0\t0000A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0
wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
";

    const ARP: &str = "\
IP address       HW type     Flags       HW address            Mask     Device
192.168.1.20     0x1         0x2         11:22:33:44:55:66     *        wlan0
192.168.1.1      0x1         0x2         aa:bb:cc:dd:ee:ff     *        wlan0
";

    #[test]
    fn the_gateway_is_found_through_the_default_route() {
        assert_eq!(
            gateway_in_tables(ROUTES, ARP).as_deref(),
            Some("aa:bb:cc:dd:ee:ff")
        );
    }

    #[test]
    fn no_default_route_or_an_incomplete_arp_entry_is_no_gateway() {
        let no_default = ROUTES.lines().take(2).collect::<Vec<_>>().join("\n");
        assert_eq!(gateway_in_tables(&no_default, ARP), None);
        let incomplete = ARP.replace("aa:bb:cc:dd:ee:ff", "00:00:00:00:00:00");
        assert_eq!(gateway_in_tables(ROUTES, &incomplete), None);
    }

    #[test]
    fn the_name_lists_each_network_once_in_order_then_the_gateway() {
        let nets = vec![
            "192.168.1.0/24".to_owned(),
            "10.0.0.0/8".to_owned(),
            "192.168.1.0/24".to_owned(),
        ];
        assert_eq!(
            name(nets.clone(), Some("aa:bb:cc:dd:ee:ff")).as_deref(),
            Some("10.0.0.0/8, 192.168.1.0/24 via aa:bb:cc:dd:ee:ff")
        );
        assert_eq!(
            name(nets, None).as_deref(),
            Some("10.0.0.0/8, 192.168.1.0/24")
        );
        assert_eq!(name(Vec::new(), Some("aa:bb:cc:dd:ee:ff")), None);
    }
}
