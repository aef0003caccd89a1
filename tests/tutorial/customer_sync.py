"""The customer-sync tutorial's Python code, run against a Ferry server.

The functions below are the tutorial's, unchanged but for where the URL and the token come from
(FERRY_API_URL and FERRY_API_KEY). `.ci/run` starts a server and runs this file; the same queries
also run in the Rust suite (crates/ferry-server/tests/api/tutorial.rs).
"""
import json
import os
import sys
from gql import gql, Client
from gql.transport.requests import RequestsHTTPTransport

token = os.environ['FERRY_API_KEY']
api_endpoint = os.environ['FERRY_API_URL']
transport = RequestsHTTPTransport(
    url=api_endpoint,
    headers={'Authorization': f'Bearer {token}'}
)
client = Client(transport=transport)


def getCustomersFirstPage():
    query = gql("""
    query {
      customers (isSystem: false) {
        nodes {
          id
          name
          description
          externalId
        }
      }
    }
    """)
    result = client.execute(query)
    return result['customers']['nodes']


def getCustomers():
    query = gql("""
    query ($startCursor: String){
      customers(after: $startCursor, isSystem: false) {
        nodes {
          id
          name
          description
          externalId
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
    """)
    cursor = ""
    hasNextPage = True
    customers = []  # Used to accumulate customer objects
    while hasNextPage:
        result = client.execute(query, variable_values={"startCursor": cursor})
        customers += result['customers']['nodes']
        hasNextPage = result['customers']['pageInfo']['hasNextPage']
        cursor = result['customers']['pageInfo']['endCursor']
    return customers


def getCustomerByExternalId(externalId):
    query = gql("""
    query ($externalId: String!) {
      customers (externalId: $externalId) {
        nodes {
          id
          name
          description
          externalId
        }
      }
    }
    """)
    params = {"externalId": externalId}
    response = client.execute(query, variable_values=params)
    assert len(response["customers"]["nodes"]) == 1, f"No customer with external ID '{externalId}' exists."
    return response["customers"]["nodes"][0]


def createCustomer(name, description="", externalId=""):
    mutation = gql("""
    mutation($name: String!, $description: String, $externalId: String) {
      createCustomer(
        input: { name: $name, description: $description, externalId: $externalId }
      ) {
        customer {
          id
          name
          description
          externalId
        }
        errors {
          messages
        }
      }
    }
    """)
    params = {
        "name": name,
        "description": description,
        "externalId": externalId
    }
    result = client.execute(mutation, variable_values=params)
    if ("errors" in result):
        raise Exception(result.errors)
    else:
        return result["createCustomer"]["customer"]


def deleteCustomer(externalId):
    customer = getCustomerByExternalId(externalId)
    mutation = gql("""
    mutation ($id: ID!) {
      deleteCustomer(
        input: {
          id: $id
        }
      ) {
        customer {
          id
          name
          description
          externalId
        }
        errors {
          messages
        }
      }
    }
    """)
    params = {"id": customer["id"]}
    result = client.execute(mutation, variable_values=params)
    if ("errors" in result):
        raise Exception(result.errors)
    else:
        return result["deleteCustomer"]["customer"]


def main():
    checks = []

    def check(name, condition):
        checks.append((name, bool(condition)))
        print(("ok     " if condition else "FAILED ") + name)

    created = createCustomer(name="Rockets Rockets Rockets", description="Rockets^3", externalId="456-xyz")
    print(json.dumps(created))
    check("createCustomer returns the customer", created["name"] == "Rockets Rockets Rockets")
    for i in range(120):
        createCustomer(name=f"Tutorial Customer {i:03}", externalId=f"tutorial-{i}")
    check("the first page holds 100 customers", len(getCustomersFirstPage()) == 100)
    everyone = getCustomers()
    check("pagination returns all 121 customers once", len({c["id"] for c in everyone}) == 121)
    found = getCustomerByExternalId("456-xyz")
    check("getCustomerByExternalId finds it", found["description"] == "Rockets^3")
    deleted = deleteCustomer("456-xyz")
    check("deleteCustomer returns the deleted customer", deleted["externalId"] == "456-xyz")
    try:
        getCustomerByExternalId("456-xyz")
        check("a deleted customer is gone", False)
    except AssertionError:
        check("a deleted customer is gone", True)

    failed = sum(1 for _, ok in checks if not ok)
    print(f"tutorial: {len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
