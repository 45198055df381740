# Private node network, router uplink and the security groups that mirror the
# host firewall (nftables, configured by Ansible). Security groups are the first
# layer; nftables on each VM is the second.

resource "openstack_networking_network_v2" "nodes" {
  name           = "${var.name}-nodes"
  admin_state_up = true
  # Port security is required for security groups and allowed_address_pairs (VIP).
  port_security_enabled = true
}

resource "openstack_networking_subnet_v2" "nodes" {
  name            = "${var.name}-nodes"
  network_id      = openstack_networking_network_v2.nodes.id
  cidr            = var.node_cidr
  ip_version      = 4
  enable_dhcp     = true
  dns_nameservers = var.dns_nameservers

  # Host numbers 10-19 are reserved for the API/ingress VIP and the load
  # balancers, 20-49 for servers, 50+ for agents (see the nodes module).
  allocation_pool {
    start = cidrhost(var.node_cidr, 200)
    end   = cidrhost(var.node_cidr, 250)
  }
}

resource "openstack_networking_router_v2" "nodes" {
  name                = "${var.name}-router"
  admin_state_up      = true
  external_network_id = var.external_network_id
}

resource "openstack_networking_router_interface_v2" "nodes" {
  router_id = openstack_networking_router_v2.nodes.id
  subnet_id = openstack_networking_subnet_v2.nodes.id
}

# ---------------------------------------------------------------------------
# Security groups
# ---------------------------------------------------------------------------

# SSH from the admin ranges only; attached to every VM.
resource "openstack_networking_secgroup_v2" "ssh" {
  name                 = "${var.name}-ssh"
  description          = "SSH from admin/VPN ranges"
  delete_default_rules = true
}

resource "openstack_networking_secgroup_rule_v2" "ssh_in" {
  for_each          = toset(var.admin_cidrs)
  security_group_id = openstack_networking_secgroup_v2.ssh.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = 22
  port_range_max    = 22
  remote_ip_prefix  = each.value
}

# k3s nodes (servers and agents).
resource "openstack_networking_secgroup_v2" "k3s" {
  name                 = "${var.name}-k3s"
  description          = "k3s node-to-node traffic"
  delete_default_rules = true
}

# Node <-> node traffic, by port (k3s "Inbound Rules for K3s Nodes"):
#   6443/tcp        Kubernetes API (agents and servers -> servers)
#   2379-2380/tcp   embedded etcd client/peer (servers <-> servers)
#   10250/tcp       kubelet (metrics-server, logs, exec)
#   51820/udp       flannel wireguard-native (pod traffic, encrypted)
#   9100/tcp        node-exporter (Prometheus)
# 9345 is RKE2's supervisor port and is not used by k3s; 8472/udp (VXLAN) is
# not opened because the flannel backend is wireguard-native.
locals {
  k3s_internal_ports = {
    api        = { protocol = "tcp", min = 6443, max = 6443 }
    etcd       = { protocol = "tcp", min = 2379, max = 2380 }
    kubelet    = { protocol = "tcp", min = 10250, max = 10250 }
    wireguard  = { protocol = "udp", min = 51820, max = 51820 }
    nodeexport = { protocol = "tcp", min = 9100, max = 9100 }
  }
}

resource "openstack_networking_secgroup_rule_v2" "k3s_internal" {
  for_each          = local.k3s_internal_ports
  security_group_id = openstack_networking_secgroup_v2.k3s.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = each.value.protocol
  port_range_min    = each.value.min
  port_range_max    = each.value.max
  remote_group_id   = openstack_networking_secgroup_v2.k3s.id
}

# The load balancers reach the API servers and the ingress gateway NodePorts.
resource "openstack_networking_secgroup_rule_v2" "k3s_api_from_lb" {
  security_group_id = openstack_networking_secgroup_v2.k3s.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = 6443
  port_range_max    = 6443
  remote_group_id   = openstack_networking_secgroup_v2.lb.id
}

resource "openstack_networking_secgroup_rule_v2" "k3s_nodeports_from_lb" {
  for_each          = toset([for p in var.ingress_node_ports : tostring(p)])
  security_group_id = openstack_networking_secgroup_v2.k3s.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = tonumber(each.value)
  port_range_max    = tonumber(each.value)
  remote_group_id   = openstack_networking_secgroup_v2.lb.id
}

# HAProxy + keepalived load balancers.
resource "openstack_networking_secgroup_v2" "lb" {
  name                 = "${var.name}-lb"
  description          = "API and ingress load balancers"
  delete_default_rules = true
}

resource "openstack_networking_secgroup_rule_v2" "lb_api" {
  for_each          = toset(var.admin_cidrs)
  security_group_id = openstack_networking_secgroup_v2.lb.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = 6443
  port_range_max    = 6443
  remote_ip_prefix  = each.value
}

# Agents and servers register through the API VIP too.
resource "openstack_networking_secgroup_rule_v2" "lb_api_from_nodes" {
  security_group_id = openstack_networking_secgroup_v2.lb.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = 6443
  port_range_max    = 6443
  remote_group_id   = openstack_networking_secgroup_v2.k3s.id
}

locals {
  lb_ingress = { for pair in setproduct(var.ingress_cidrs, ["80", "443"]) : "${pair[0]}-${pair[1]}" => { cidr = pair[0], port = tonumber(pair[1]) } }
}

resource "openstack_networking_secgroup_rule_v2" "lb_http" {
  for_each          = local.lb_ingress
  security_group_id = openstack_networking_secgroup_v2.lb.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "tcp"
  port_range_min    = each.value.port
  port_range_max    = each.value.port
  remote_ip_prefix  = each.value.cidr
}

# keepalived VRRP (IP protocol 112) between the two load balancers.
resource "openstack_networking_secgroup_rule_v2" "lb_vrrp" {
  security_group_id = openstack_networking_secgroup_v2.lb.id
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = "112"
  remote_group_id   = openstack_networking_secgroup_v2.lb.id
}

# Egress from every group to any address: the VMs need the Debian mirrors, the k3s
# release and container registries, whose addresses change; the load balancers also
# health-check and forward to the nodes. Egress is filtered upstream by the site
# firewall.
resource "openstack_networking_secgroup_rule_v2" "egress" {
  for_each = {
    ssh = openstack_networking_secgroup_v2.ssh.id
    k3s = openstack_networking_secgroup_v2.k3s.id
    lb  = openstack_networking_secgroup_v2.lb.id
  }
  security_group_id = each.value
  direction         = "egress"
  ethertype         = "IPv4"
  remote_ip_prefix  = "0.0.0.0/0"
}
