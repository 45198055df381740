output "vip" {
  description = "Private virtual IP of the API and ingress load balancer (k3s --tls-san, DNS api/ingress records)."
  value       = local.vip_ip
}

output "public_ip" {
  description = "Floating IP associated with the VIP, or null."
  value       = var.floating_ip_pool == null ? null : openstack_networking_floatingip_v2.vip[0].address
}

output "lbs" {
  description = "Load balancer VMs: name => { ip, id, keepalived_priority }."
  value = {
    for name, lb in local.lbs : name => {
      ip                  = lb.ip
      id                  = openstack_compute_instance_v2.lb[name].id
      keepalived_priority = lb.priority
    }
  }
}
