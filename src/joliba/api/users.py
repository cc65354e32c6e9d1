"""User accounts (superusers only)."""

from __future__ import annotations

from fastapi import APIRouter

from joliba.domain.errors import Forbidden
from joliba.http.deps import ActorDep, Paging, ReadDB, WriteDB, page_of
from joliba.schemas.common import Page
from joliba.schemas.users import User, UserCreate
from joliba.services import users
from joliba.services.actors import Actor

router = APIRouter(tags=["users"])


def _superuser(actor: Actor) -> None:
    if not actor.is_superuser or actor.restricted:
        raise Forbidden("only superusers manage user accounts")


@router.get("/users", response_model=Page[User], summary="List user accounts")
def list_users(actor: ActorDep, session: ReadDB, page: Paging) -> Page[User]:
    _superuser(actor)
    rows, total = users.list_users(session, page)
    return page_of([User.model_validate(u) for u in rows], page, total)


@router.post("/users", status_code=201, response_model=User, summary="Create a user account")
def create_user(body: UserCreate, actor: ActorDep, session: WriteDB) -> User:
    _superuser(actor)
    user = users.create_user(
        session,
        email=body.email,
        password=body.password,
        name=body.name,
        superuser=body.is_superuser,
        actor=actor,
    )
    return User.model_validate(user)
