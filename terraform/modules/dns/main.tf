# DNS records in OpenStack Designate:
#   api.<zone>      -> VIP       (kubeconfig server, k3s --tls-san)
#   *.apps.<zone>   -> ingress   (Istio ingress gateway hosts)
#   <node>.<zone>   -> node IP   (SSH / Ansible inventory, etcd peer names)

resource "openstack_dns_recordset_v2" "api" {
  zone_id     = var.zone_id
  name        = "api.${var.zone_name}"
  type        = "A"
  ttl         = var.ttl
  records     = [var.api_ip]
  description = "Kubernetes API (keepalived VIP)"
}

resource "openstack_dns_recordset_v2" "apps" {
  zone_id     = var.zone_id
  name        = "*.apps.${var.zone_name}"
  type        = "A"
  ttl         = var.ttl
  records     = [var.ingress_ip]
  description = "Istio ingress gateway"
}

resource "openstack_dns_recordset_v2" "host" {
  for_each    = var.hosts
  zone_id     = var.zone_id
  name        = "${each.key}.${var.zone_name}"
  type        = "A"
  ttl         = var.ttl
  records     = [each.value]
  description = "node"
}
