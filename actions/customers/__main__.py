"""`python -m actions.customers export|erase --phone ... | --email ...` (actions/customers/data.py)."""
import sys

if __name__ == "__main__":  # rasa-sdk imports this module too: no work unless run as a program
    from actions.customers.data import main

    sys.exit(main(sys.argv[1:]))
