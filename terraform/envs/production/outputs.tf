output "api_endpoint" {
  description = "Kubernetes API URL."
  value       = module.cluster.api_endpoint
}

output "api_vip" {
  description = "API/ingress VIP."
  value       = module.cluster.api_vip
}

output "ingress_ip" {
  description = "Ingress address."
  value       = module.cluster.ingress_ip
}

output "ansible_inventory" {
  description = "YAML inventory for terraform/ansible."
  value       = module.cluster.ansible_inventory
}
