// Fixture: TypeScript symbols.
export interface User {
  id: number;
  name: string;
  greet(other: User): string;
}

export type UserId = number;

export enum Role {
  Admin,
  Guest,
}

export const DEFAULT_ROLE = Role.Guest;

namespace Internal {
  export function secretHelper(): void {}
}

export abstract class Repository<T> {
  abstract find(id: UserId): T | undefined;

  count(): number {
    return 0;
  }
}

export class UserStore extends Repository<User> {
  private users = new Map<UserId, User>();

  find(id: UserId): User | undefined {
    return this.users.get(id);
  }
}

export function createStore(): UserStore {
  return new UserStore();
}
