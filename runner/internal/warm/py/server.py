# The warm executor's server: see ansible_operator_warm beside this file.
from ansible_operator_warm.server import main

if __name__ == "__main__":
    main()
