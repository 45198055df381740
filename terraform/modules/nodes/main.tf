# k3s server and agent VMs. Each VM gets a port with a fixed IP (so the Ansible
# inventory and the DNS records are stable), a boot volume, and is placed by a
# server group: servers with strict anti-affinity (losing one hypervisor must
# not lose etcd quorum), agents with soft anti-affinity.

resource "openstack_compute_keypair_v2" "admin" {
  name       = "${var.name}-admin"
  public_key = var.ssh_public_key
}

resource "openstack_compute_servergroup_v2" "servers" {
  name     = "${var.name}-servers"
  policies = ["anti-affinity"]
}

resource "openstack_compute_servergroup_v2" "agents" {
  name     = "${var.name}-agents"
  policies = ["soft-anti-affinity"]
}

locals {
  servers = {
    for i in range(var.server_count) : format("%s-server-%d", var.name, i + 1) => {
      ip     = cidrhost(var.node_cidr, 20 + i)
      flavor = var.server_flavor
      group  = openstack_compute_servergroup_v2.servers.id
      role   = "server"
    }
  }
  agents = {
    for i in range(var.agent_count) : format("%s-agent-%d", var.name, i + 1) => {
      ip     = cidrhost(var.node_cidr, 50 + i)
      flavor = var.agent_flavor
      group  = openstack_compute_servergroup_v2.agents.id
      role   = "agent"
    }
  }
  nodes = merge(local.servers, local.agents)
}

resource "openstack_networking_port_v2" "node" {
  for_each           = local.nodes
  name               = each.key
  network_id         = var.network_id
  admin_state_up     = true
  security_group_ids = var.secgroup_ids

  fixed_ip {
    subnet_id  = var.subnet_id
    ip_address = each.value.ip
  }
}

resource "openstack_compute_instance_v2" "node" {
  for_each    = local.nodes
  name        = each.key
  flavor_name = each.value.flavor
  key_pair    = openstack_compute_keypair_v2.admin.name
  # Config drive instead of the metadata service: nothing for pods to reach
  # on 169.254.169.254.
  config_drive = true

  user_data = templatefile("${path.module}/cloud-init.yaml.tftpl", {
    hostname = each.key
    fqdn     = "${each.key}.${var.domain}"
  })

  metadata = {
    cluster = var.name
    role    = each.value.role
  }

  block_device {
    uuid                  = var.image_id
    source_type           = "image"
    destination_type      = "volume"
    volume_size           = var.root_volume_size_gb
    volume_type           = var.volume_type
    boot_index            = 0
    delete_on_termination = true
  }

  network {
    port = openstack_networking_port_v2.node[each.key].id
  }

  scheduler_hints {
    group = each.value.group
  }

  lifecycle {
    # The image is bumped in place by Ansible/unattended-upgrades, not by
    # recreating nodes; user_data only matters at first boot.
    ignore_changes = [block_device, user_data]
  }

  depends_on = [terraform_data.network_ready]
}

# Explicit ordering handle: VMs wait for the router interface.
resource "terraform_data" "network_ready" {
  input = var.depends_on_ids
}
