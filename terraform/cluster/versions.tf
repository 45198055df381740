terraform {
  required_version = ">= 1.6.0"

  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 3.4"
    }
  }

  # State in PostgreSQL (the ops database, not the FitSync one): locking built in,
  # nothing cloud-specific. The connection string (PG_CONN_STR) and the environment's
  # schema (-backend-config=schema_name=terraform_<env>) come from `terraform init`,
  # never from this file.
  backend "pg" {}
}

# Credentials come from clouds.yaml / OS_CLOUD (or OS_* environment variables), never
# from code.
provider "openstack" {}
