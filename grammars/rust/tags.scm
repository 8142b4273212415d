; SmallCode symbol tags for Rust (see grammars/python/tags.scm for the capture contract).

(function_item
  name: (identifier) @name) @definition.function

(function_signature_item
  name: (identifier) @name) @definition.function

(struct_item
  name: (type_identifier) @name) @definition.struct

(union_item
  name: (type_identifier) @name) @definition.struct

(enum_item
  name: (type_identifier) @name) @definition.enum

(trait_item
  name: (type_identifier) @name) @definition.trait

; `impl Trait for Type` is named after Type; its functions become Type's methods.
(impl_item
  type: [(type_identifier) @name
         (generic_type type: (type_identifier) @name)
         (generic_type type: (scoped_type_identifier name: (type_identifier) @name))
         (scoped_type_identifier name: (type_identifier) @name)]) @definition.impl

(mod_item
  name: (identifier) @name
  body: (declaration_list)) @definition.module

(const_item
  name: (identifier) @name) @definition.constant

(static_item
  name: (identifier) @name) @definition.constant

(type_item
  name: (type_identifier) @name) @definition.type

(macro_definition
  name: (identifier) @name) @definition.macro
