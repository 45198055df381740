output "api_endpoint" {
  description = "Kubernetes API URL for the kubeconfig."
  value       = "https://${module.dns.api_fqdn}:6443"
}

output "api_vip" {
  description = "Private VIP of the API/ingress load balancer."
  value       = module.loadbalancer.vip
}

output "ingress_ip" {
  description = "Public (floating) or private address of the ingress."
  value       = coalesce(module.loadbalancer.public_ip, module.loadbalancer.vip)
}

output "ansible_inventory" {
  description = "Ansible inventory in YAML for terraform/ansible (write it with terraform output -raw)."
  value       = yamlencode(local.inventory)
}
