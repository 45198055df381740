output "servers" {
  description = "k3s servers: name => { ip, id }. The first (by name) runs --cluster-init."
  value = {
    for name, node in local.servers : name => {
      ip = node.ip
      id = openstack_compute_instance_v2.node[name].id
    }
  }
}

output "agents" {
  description = "k3s agents: name => { ip, id }."
  value = {
    for name, node in local.agents : name => {
      ip = node.ip
      id = openstack_compute_instance_v2.node[name].id
    }
  }
}

output "keypair_name" {
  description = "Name of the admin keypair (reused by the load balancers)."
  value       = openstack_compute_keypair_v2.admin.name
}
