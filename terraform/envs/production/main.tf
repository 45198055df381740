module "cluster" {
  source = "../../modules/cluster"

  name                = var.name
  environment         = var.environment
  node_cidr           = var.node_cidr
  dns_nameservers     = var.dns_nameservers
  external_network_id = var.external_network_id
  floating_ip_pool    = var.floating_ip_pool
  admin_cidrs         = var.admin_cidrs
  ingress_cidrs       = var.ingress_cidrs
  image_id            = var.image_id
  server_flavor       = var.server_flavor
  agent_flavor        = var.agent_flavor
  lb_flavor           = var.lb_flavor
  server_count        = var.server_count
  agent_count         = var.agent_count
  volume_type         = var.volume_type
  server_data_gb      = var.server_data_gb
  agent_data_gb       = var.agent_data_gb
  ssh_public_key      = var.ssh_public_key
  dns_zone_id         = var.dns_zone_id
  dns_zone_name       = var.dns_zone_name
}
