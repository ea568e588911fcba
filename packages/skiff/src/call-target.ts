/** What a call runs on the server: a function, or a method of a class instance. */
export interface CallTarget {
  functionId: string;
  /** Set for a class instance's method. */
  method?: string;
}
