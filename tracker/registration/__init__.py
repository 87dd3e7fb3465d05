"""Registration: obligations, submissions, review, registration numbers and signed certificates.

The service functions every channel calls: ``submit.submit_registration`` / ``submit.submit`` (a
provider's notification, contest, information or voluntary registration),
``withdraw.withdraw_registration`` and ``decide.decide`` (a regulator's decision);
``obligations.open_obligations`` runs in every evaluation. ``states`` holds the transition table,
``validate`` the checks of hostile input (both pure), ``errors`` what they raise.
"""
