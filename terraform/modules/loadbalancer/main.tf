# Two small VMs running HAProxy + keepalived (configured by Ansible, role
# "loadbalancer"). keepalived moves a virtual IP between them with VRRP; the
# VIP is a Neutron port that is never bound to a VM, only reserved, and both
# load balancer ports list it in allowed_address_pairs so Neutron's
# anti-spoofing lets the active one answer for it.
#
# HAProxy serves:
#   VIP:6443 -> k3s servers :6443       (Kubernetes API, TCP, /readyz checks)
#   VIP:80   -> all nodes :30080        (Istio ingress gateway NodePort)
#   VIP:443  -> all nodes :30443        (TLS passthrough to the gateway)

locals {
  vip_ip = cidrhost(var.node_cidr, 10)
  lbs = {
    format("%s-lb-1", var.name) = { ip = cidrhost(var.node_cidr, 11), priority = 150 }
    format("%s-lb-2", var.name) = { ip = cidrhost(var.node_cidr, 12), priority = 100 }
  }
}

resource "openstack_networking_port_v2" "vip" {
  name           = "${var.name}-vip"
  network_id     = var.network_id
  admin_state_up = true
  # Reserved only: the address is held by keepalived, not by a VM.
  device_owner       = "fitsync:vip"
  security_group_ids = var.secgroup_ids

  fixed_ip {
    subnet_id  = var.subnet_id
    ip_address = local.vip_ip
  }
}

resource "openstack_networking_port_v2" "lb" {
  for_each           = local.lbs
  name               = each.key
  network_id         = var.network_id
  admin_state_up     = true
  security_group_ids = var.secgroup_ids

  fixed_ip {
    subnet_id  = var.subnet_id
    ip_address = each.value.ip
  }

  allowed_address_pairs {
    ip_address = local.vip_ip
  }
}

resource "openstack_compute_servergroup_v2" "lb" {
  name     = "${var.name}-lb"
  policies = ["anti-affinity"]
}

resource "openstack_compute_instance_v2" "lb" {
  for_each     = local.lbs
  name         = each.key
  flavor_name  = var.flavor
  key_pair     = var.keypair_name
  config_drive = true

  user_data = templatefile("${path.module}/../nodes/cloud-init.yaml.tftpl", {
    hostname = each.key
    fqdn     = "${each.key}.${var.domain}"
  })

  metadata = {
    cluster = var.name
    role    = "loadbalancer"
  }

  block_device {
    uuid                  = var.image_id
    source_type           = "image"
    destination_type      = "volume"
    volume_size           = 20
    volume_type           = var.volume_type
    boot_index            = 0
    delete_on_termination = true
  }

  network {
    port = openstack_networking_port_v2.lb[each.key].id
  }

  scheduler_hints {
    group = openstack_compute_servergroup_v2.lb.id
  }

  lifecycle {
    ignore_changes = [block_device, user_data]
  }

  depends_on = [terraform_data.network_ready]
}

resource "terraform_data" "network_ready" {
  input = var.depends_on_ids
}

# Optional public address for the VIP (ingress from the internet).
resource "openstack_networking_floatingip_v2" "vip" {
  count       = var.floating_ip_pool == null ? 0 : 1
  pool        = var.floating_ip_pool
  description = "${var.name} ingress VIP"
}

resource "openstack_networking_floatingip_associate_v2" "vip" {
  count       = var.floating_ip_pool == null ? 0 : 1
  floating_ip = openstack_networking_floatingip_v2.vip[0].address
  port_id     = openstack_networking_port_v2.vip.id
}
