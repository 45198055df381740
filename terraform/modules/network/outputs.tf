output "network_id" {
  description = "ID of the node network."
  value       = openstack_networking_network_v2.nodes.id
}

output "subnet_id" {
  description = "ID of the node subnet."
  value       = openstack_networking_subnet_v2.nodes.id
}

output "node_cidr" {
  description = "CIDR of the node subnet."
  value       = openstack_networking_subnet_v2.nodes.cidr
}

output "secgroup_ids" {
  description = "Security group IDs by role: ssh, k3s, lb."
  value = {
    ssh = openstack_networking_secgroup_v2.ssh.id
    k3s = openstack_networking_secgroup_v2.k3s.id
    lb  = openstack_networking_secgroup_v2.lb.id
  }
}

output "router_interface_id" {
  description = "Router interface; instances depend on it so they boot with a working default route."
  value       = openstack_networking_router_interface_v2.nodes.id
}
