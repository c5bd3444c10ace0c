variable "app_name" {
  description = "Name to give the deployed application"
  type        = string
  default     = "istio-beacon-k8s"
}

variable "base" {
  description = "Base the charm is deployed on, e.g. \"ubuntu@22.04\" (the only one it is built for); null lets Juju take the channel's"
  type        = string
  default     = null
}

variable "channel" {
  description = "Charmhub channel the charm is deployed from; the track must be dev/, the track of the charm whose endpoints and config this module describes"
  type        = string
  default     = "dev/edge"

  validation {
    condition     = startswith(var.channel, "dev/")
    error_message = "The track of the channel must be 'dev/', e.g. 'dev/edge'."
  }
}

variable "config" {
  description = "Map of the charm configuration options (keys as in config.yaml, values as strings)"
  type        = map(string)
  default     = {}
}

variable "constraints" {
  description = "String listing constraints for this application"
  type        = string
  default     = "arch=amd64"
}

variable "model_uuid" {
  description = "UUID of the model to deploy to (juju provider >= 1.0 takes the model's UUID, not its name): e.g. juju_model.<name>.uuid or data.juju_model.<name>.uuid"
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.model_uuid))
    error_message = "model_uuid must be a model's UUID (e.g. juju_model.<name>.uuid), not its name."
  }
}

variable "revision" {
  description = "Revision number of the charm; null deploys the channel's current revision"
  type        = number
  default     = null
}

variable "storage_directives" {
  description = "Map of storage used by the application (storage label to [<pool>,][<count>,][<size>]); the charm declares no storage, so this stays empty"
  type        = map(string)
  default     = {}
}

variable "units" {
  description = "Unit count/scale"
  type        = number
  default     = 1
}
