-- "Whose grants does this user hold" (a client's trainers and gyms) is asked per request.
create index access_grants_subject on access_grants (subject) where active;
