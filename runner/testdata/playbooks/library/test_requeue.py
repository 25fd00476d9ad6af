#!/usr/bin/python3
"""Test-only module: returns requeue_after like operator_sdk.util.requeue_after."""
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(period=dict(type="str", required=True)))
    module.exit_json(changed=False, requeue_after=module.params["period"])


if __name__ == "__main__":
    main()
