terraform {
  required_version = ">= 1.6.0"

  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 3.4"
    }
  }

  # State in PostgreSQL (the ops database, not the FitSync one): locking
  # built in, nothing cloud-specific. Connection string comes from
  # PG_CONN_STR or -backend-config, never from this file.
  backend "pg" {}
}

# Credentials come from clouds.yaml / OS_CLOUD (or OS_* environment
# variables), never from code.
provider "openstack" {}
