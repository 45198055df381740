# Production: 3 servers (control plane + etcd only, tainted by Ansible) and
# 5 agents. Sizing: the agents carry PostgreSQL (3 instances), Kafka (3
# brokers), OpenSearch (3 nodes), Redis, Istio, Vault, Argo CD, Prometheus
# and the ten FitSync services; 8 vCPU / 32 GiB each leaves room to lose one.
# IDs below are placeholders for the site's OpenStack; replace before apply.
name                = "fitsync-prod"
environment         = "production"
node_cidr           = "10.20.0.0/24"
dns_nameservers     = ["10.0.0.53", "10.0.1.53"]
external_network_id = "00000000-0000-0000-0000-000000000000"
floating_ip_pool    = "public"
admin_cidrs         = ["10.8.0.0/24"]
ingress_cidrs       = ["0.0.0.0/0"]
image_id            = "00000000-0000-0000-0000-000000000001"
server_flavor       = "m1.large"   # 4 vCPU / 8 GiB
agent_flavor        = "m1.2xlarge" # 8 vCPU / 32 GiB
lb_flavor           = "m1.small"   # 2 vCPU / 2 GiB
server_count        = 3
agent_count         = 5
volume_type         = "encrypted-ssd"
server_data_gb      = 50
agent_data_gb       = 500
ssh_public_key      = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderReplaceWithTheOpsKeyxxxxxxxxxxxx ops@fitsync"
dns_zone_id         = "00000000-0000-0000-0000-000000000002"
dns_zone_name       = "prod.fitsync.example."
