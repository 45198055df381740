# Staging: same shape as production (3 servers so HA/etcd behaviour is the
# same), fewer and smaller agents. Placeholders; replace before apply.
name                = "fitsync-staging"
environment         = "staging"
node_cidr           = "10.21.0.0/24"
dns_nameservers     = ["10.0.0.53", "10.0.1.53"]
external_network_id = "00000000-0000-0000-0000-000000000000"
floating_ip_pool    = null
admin_cidrs         = ["10.8.0.0/24"]
ingress_cidrs       = ["10.8.0.0/24"]
image_id            = "00000000-0000-0000-0000-000000000001"
server_flavor       = "m1.medium" # 2 vCPU / 4 GiB
agent_flavor        = "m1.xlarge" # 8 vCPU / 16 GiB
lb_flavor           = "m1.small"
server_count        = 3
agent_count         = 3
volume_type         = "encrypted-ssd"
server_data_gb      = 30
agent_data_gb       = 200
ssh_public_key      = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderReplaceWithTheOpsKeyxxxxxxxxxxxx ops@fitsync"
dns_zone_id         = "00000000-0000-0000-0000-000000000003"
dns_zone_name       = "staging.fitsync.example."
