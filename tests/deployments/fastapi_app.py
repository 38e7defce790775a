"""A real deployment written the way most FastAPI auth services are: the "OAuth2 with
Password (and hashing), Bearer with JWT tokens" pattern of FastAPI's tutorial, nearly line
for line. Login is a form posted to ``/token``, the user is at ``/users/me/``, passwords
are argon2 hashes (pwdlib), and there is no refresh or logout.

It has the usual gaps against openapi.yaml, and the contract tests expect exactly these:
errors are ``{"detail": ...}`` (no ``error``/``error_description``), the token answer has
no ``expires_in`` and no ``Cache-Control: no-store``, the JWT has no ``iat``, ``/users/me/``
answers ``username`` rather than ``sub``, and a malformed form gets FastAPI's 422.

Served by uvicorn (``tests/deployments/__init__.py``). ``HASH_COST=fast`` swaps argon2's
default cost (about 100 ms of CPU a login, as in production) for a cheap one in tests.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from jwt.exceptions import InvalidTokenError
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import BaseModel

SECRET_KEY = "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7"
ALGORITHM = "HS256"
ACCESS_TOKEN_EXPIRE_MINUTES = 30
USERNAME, PASSWORD = "johndoe", "secret"

# Argon2's time cost 2 at 64 MiB is about 100 ms of CPU per verify on the bench machine.
password_hash = PasswordHash(
    (Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),)
    if os.environ.get("HASH_COST") == "fast"
    else (Argon2Hasher(time_cost=2, memory_cost=65536, parallelism=1),)
)
DUMMY_HASH = password_hash.hash("dummypassword")

fake_users_db: dict[str, dict[str, Any]] = {
    USERNAME: {
        "username": USERNAME,
        "full_name": "John Doe",
        "email": "johndoe@example.com",
        "hashed_password": password_hash.hash(PASSWORD),
        "disabled": False,
    }
}


class Token(BaseModel):
    access_token: str
    token_type: str


class TokenData(BaseModel):
    username: str | None = None


class User(BaseModel):
    username: str
    email: str | None = None
    full_name: str | None = None
    disabled: bool | None = None


class UserInDB(User):
    hashed_password: str


oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")
app = FastAPI()


def verify_password(plain_password: str, hashed_password: str) -> bool:
    return password_hash.verify(plain_password, hashed_password)


def get_user(db: dict[str, dict[str, Any]], username: str | None) -> UserInDB | None:
    if username in db:
        return UserInDB(**db[username])
    return None


def authenticate_user(fake_db: dict[str, dict[str, Any]], username: str, password: str) -> UserInDB | None:
    user = get_user(fake_db, username)
    if not user:
        verify_password(password, DUMMY_HASH)
        return None
    if not verify_password(password, user.hashed_password):
        return None
    return user


def create_access_token(data: dict[str, Any], expires_delta: timedelta | None = None) -> str:
    to_encode = data.copy()
    expire = datetime.now(timezone.utc) + (expires_delta or timedelta(minutes=15))
    to_encode.update({"exp": expire})
    return jwt.encode(to_encode, SECRET_KEY, algorithm=ALGORITHM)


async def get_current_user(token: Annotated[str, Depends(oauth2_scheme)]) -> UserInDB:
    credentials_exception = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": "Bearer"},
    )
    try:
        payload = jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM])
        username = payload.get("sub")
        if username is None:
            raise credentials_exception
        token_data = TokenData(username=username)
    except InvalidTokenError:
        raise credentials_exception from None
    user = get_user(fake_users_db, username=token_data.username)
    if user is None:
        raise credentials_exception
    return user


async def get_current_active_user(current_user: Annotated[User, Depends(get_current_user)]) -> User:
    if current_user.disabled:
        raise HTTPException(status_code=400, detail="Inactive user")
    return current_user


@app.post("/token")
async def login_for_access_token(form_data: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    user = authenticate_user(fake_users_db, form_data.username, form_data.password)
    if not user:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    access_token_expires = timedelta(minutes=ACCESS_TOKEN_EXPIRE_MINUTES)
    access_token = create_access_token(data={"sub": user.username}, expires_delta=access_token_expires)
    return Token(access_token=access_token, token_type="bearer")


@app.get("/users/me/")
async def read_users_me(current_user: Annotated[User, Depends(get_current_active_user)]) -> User:
    return current_user


@app.get("/users/me/items/")
async def read_own_items(current_user: Annotated[User, Depends(get_current_active_user)]) -> list[dict[str, str]]:
    return [{"item_id": "Foo", "owner": current_user.username}]


def expired_token() -> str:
    """A token this deployment signed whose exp has passed, for --expired-token."""
    return create_access_token({"sub": USERNAME}, expires_delta=timedelta(minutes=-5))
