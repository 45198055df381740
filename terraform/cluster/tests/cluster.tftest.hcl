# Offline tests of the composition with a mocked OpenStack provider: plans
# only, computed attributes (IDs) get mock values already at plan time, no
# cloud is contacted. (Plan, not apply: the data volumes have
# prevent_destroy, which a test's teardown would trip over.)
# Run: terraform init -backend=false && terraform test

mock_provider "openstack" {
  override_during = plan

  mock_resource "openstack_blockstorage_volume_v3" {
    defaults = {
      id = "0123456789abcdef0123-4567-89ab-cdef01234567"
    }
  }
}

variables {
  name                = "fitsync-test"
  environment         = "test"
  node_cidr           = "10.30.0.0/24"
  dns_nameservers     = ["10.0.0.53"]
  external_network_id = "ext-net"
  floating_ip_pool    = null
  admin_cidrs         = ["10.8.0.0/24"]
  ingress_cidrs       = ["0.0.0.0/0"]
  image_id            = "debian-12"
  server_flavor       = "m1.large"
  agent_flavor        = "m1.xlarge"
  lb_flavor           = "m1.small"
  server_count        = 3
  agent_count         = 4
  volume_type         = "encrypted"
  server_data_gb      = 30
  agent_data_gb       = 200
  ssh_public_key      = "ssh-ed25519 AAAAtest test"
  dns_zone_id         = "zone"
  dns_zone_name       = "test.fitsync.example."
}

run "ha_shape_and_inventory" {
  command = plan

  assert {
    condition     = length(module.nodes.servers) == 3 && length(module.nodes.agents) == 4
    error_message = "expected 3 servers and 4 agents"
  }

  assert {
    condition     = module.loadbalancer.vip == "10.30.0.10"
    error_message = "the VIP must be host 10 of the node network"
  }

  assert {
    condition     = module.nodes.servers["fitsync-test-server-1"].ip == "10.30.0.20"
    error_message = "servers start at host 20"
  }

  assert {
    condition     = length(module.storage.data_volumes) == 7
    error_message = "every k3s node gets a data volume"
  }

  assert {
    condition     = output.api_endpoint == "https://api.test.fitsync.example:6443"
    error_message = "the kubeconfig endpoint is api.<zone>:6443"
  }

  assert {
    condition = (
      length(keys(yamldecode(output.ansible_inventory).all.children.k3s_cluster.children.k3s_servers.hosts)) == 3 &&
      length(keys(yamldecode(output.ansible_inventory).all.children.k3s_cluster.children.k3s_agents.hosts)) == 4 &&
      length(keys(yamldecode(output.ansible_inventory).all.children.loadbalancers.hosts)) == 2
    )
    error_message = "the inventory must list 3 servers, 4 agents and 2 load balancers"
  }

  assert {
    condition     = yamldecode(output.ansible_inventory).all.vars.k3s_api_vip == "10.30.0.10"
    error_message = "the inventory carries the API VIP for --tls-san and HAProxy"
  }

  assert {
    condition     = output.ingress_ip == "10.30.0.10"
    error_message = "without a floating IP pool the ingress is the private VIP"
  }
}

run "even_server_count_rejected" {
  command = plan

  variables {
    server_count = 4
  }

  expect_failures = [var.server_count]
}

run "open_admin_cidr_rejected" {
  command = plan

  variables {
    admin_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.admin_cidrs]
}
