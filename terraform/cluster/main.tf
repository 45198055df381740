# The root module: the five modules composed into one environment's cluster. Each
# environment is a variables file (production.tfvars, staging.tfvars) and a state of its
# own (the backend's schema_name), so staging and production cannot drift in shape.

locals {
  domain = trimsuffix(var.dns_zone_name, ".")
}

module "network" {
  source = "../modules/network"

  name                = var.name
  node_cidr           = var.node_cidr
  dns_nameservers     = var.dns_nameservers
  external_network_id = var.external_network_id
  admin_cidrs         = var.admin_cidrs
  ingress_cidrs       = var.ingress_cidrs
}

module "nodes" {
  source = "../modules/nodes"

  name           = var.name
  image_id       = var.image_id
  server_flavor  = var.server_flavor
  agent_flavor   = var.agent_flavor
  server_count   = var.server_count
  agent_count    = var.agent_count
  volume_type    = var.volume_type
  network_id     = module.network.network_id
  subnet_id      = module.network.subnet_id
  node_cidr      = module.network.node_cidr
  secgroup_ids   = [module.network.secgroup_ids.ssh, module.network.secgroup_ids.k3s]
  ssh_public_key = var.ssh_public_key
  domain         = local.domain
  depends_on_ids = [module.network.router_interface_id]
}

module "loadbalancer" {
  source = "../modules/loadbalancer"

  name             = var.name
  image_id         = var.image_id
  flavor           = var.lb_flavor
  volume_type      = var.volume_type
  network_id       = module.network.network_id
  subnet_id        = module.network.subnet_id
  node_cidr        = module.network.node_cidr
  secgroup_ids     = [module.network.secgroup_ids.ssh, module.network.secgroup_ids.lb]
  keypair_name     = module.nodes.keypair_name
  domain           = local.domain
  floating_ip_pool = var.floating_ip_pool
  depends_on_ids   = [module.network.router_interface_id]
}

module "storage" {
  source = "../modules/storage"

  name        = var.name
  volume_type = var.volume_type
  data_disks = merge(
    { for n, s in module.nodes.servers : n => { instance_id = s.id, size_gb = var.server_data_gb } },
    { for n, a in module.nodes.agents : n => { instance_id = a.id, size_gb = var.agent_data_gb } },
  )
}

module "dns" {
  source = "../modules/dns"

  zone_id    = var.dns_zone_id
  zone_name  = var.dns_zone_name
  api_ip     = module.loadbalancer.vip
  ingress_ip = coalesce(module.loadbalancer.public_ip, module.loadbalancer.vip)
  hosts = merge(
    { for n, s in module.nodes.servers : n => s.ip },
    { for n, a in module.nodes.agents : n => a.ip },
    { for n, l in module.loadbalancer.lbs : n => l.ip },
  )
}

locals {
  # Ansible inventory (YAML). `terraform output -raw ansible_inventory >
  # ../../ansible/inventory/<env>/hosts.yml` writes it; group_vars live next to it.
  inventory = {
    all = {
      vars = {
        ansible_user          = var.ansible_user
        fitsync_env           = var.environment
        k3s_api_vip           = module.loadbalancer.vip
        k3s_api_fqdn          = module.dns.api_fqdn
        k3s_node_cidr         = module.network.node_cidr
        fitsync_admin_cidrs   = var.admin_cidrs
        fitsync_ingress_cidrs = var.ingress_cidrs
        ingress_domain        = module.dns.apps_domain
      }
      children = {
        loadbalancers = {
          hosts = {
            for n, l in module.loadbalancer.lbs : n => {
              ansible_host                     = l.ip
              loadbalancer_keepalived_priority = l.keepalived_priority
            }
          }
        }
        k3s_cluster = {
          children = {
            k3s_servers = {
              hosts = {
                for n, s in module.nodes.servers : n => {
                  ansible_host   = s.ip
                  data_volume_id = module.storage.data_volumes[n].volume_id
                }
              }
            }
            k3s_agents = {
              hosts = {
                for n, a in module.nodes.agents : n => {
                  ansible_host   = a.ip
                  data_volume_id = module.storage.data_volumes[n].volume_id
                }
              }
            }
          }
        }
      }
    }
  }
}
