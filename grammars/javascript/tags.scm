; SmallCode symbol tags for JavaScript (see grammars/python/tags.scm for the capture contract).

(function_declaration
  name: (identifier) @name) @definition.function

(generator_function_declaration
  name: (identifier) @name) @definition.function

(class_declaration
  name: (identifier) @name) @definition.class

(method_definition
  name: [(property_identifier) (private_property_identifier)] @name) @definition.method

(field_definition
  property: [(property_identifier) (private_property_identifier)] @name
  value: [(arrow_function) (function_expression)]) @definition.method

; Top-level `const` (plain or exported): functions when bound to a function, else constants.
(program
  (lexical_declaration
    kind: "const"
    (variable_declarator
      name: (identifier) @name
      value: [(arrow_function) (function_expression) (generator_function)])) @definition.function)

(program
  (export_statement
    declaration: (lexical_declaration
      kind: "const"
      (variable_declarator
        name: (identifier) @name
        value: [(arrow_function) (function_expression) (generator_function)]))) @definition.function)

(program
  (lexical_declaration
    kind: "const"
    (variable_declarator
      name: (identifier) @name
      value: (class))) @definition.class)

(program
  (lexical_declaration
    kind: "const"
    (variable_declarator
      name: (identifier) @name
      value: [(string) (template_string) (number) (true) (false) (null) (object) (array) (regex)
              (call_expression) (new_expression) (member_expression) (binary_expression)
              (identifier)])) @definition.constant)

(program
  (export_statement
    declaration: (lexical_declaration
      kind: "const"
      (variable_declarator
        name: (identifier) @name
        value: [(string) (template_string) (number) (true) (false) (null) (object) (array) (regex)
                (call_expression) (new_expression) (member_expression) (binary_expression)
                (identifier)]))) @definition.constant)

; `export function f` / `export class C` include the `export` keyword in their range.
(export_statement
  declaration: [(function_declaration name: (identifier) @name)
                (generator_function_declaration name: (identifier) @name)]) @definition.function

(export_statement
  declaration: (class_declaration
    name: (identifier) @name)) @definition.class
