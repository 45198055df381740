output "api_fqdn" {
  description = "FQDN of the Kubernetes API (without the trailing dot)."
  value       = trimsuffix(openstack_dns_recordset_v2.api.name, ".")
}

output "apps_domain" {
  description = "Wildcard ingress domain (without the trailing dot), e.g. apps.prod.fitsync.example."
  value       = trimsuffix(trimprefix(openstack_dns_recordset_v2.apps.name, "*."), ".")
}
