# juju provider 1.0 replaced the `model` (name) argument of juju_application and
# juju_integration by `model_uuid`; 2.0 changed no resource (it adds Juju 4 controllers and
# drops Juju 2.9), so this module works with both.
terraform {
  required_version = ">= 1.5"
  required_providers {
    juju = {
      source  = "juju/juju"
      version = ">= 1.0"
    }
  }
}
